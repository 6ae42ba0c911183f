"""Answer extraction on realistic (chat-)model outputs: every case asserts the exact parsed value."""

import pytest

from finbench.extract import KNOWN_TASKS, extract_answer, extract_number_with_scale, parse

SENTIMENT_CASES = [
    ("positive", "positive"),
    ("Negative", "negative"),
    (" neutral \n", "neutral"),
    ("**Positive**", "positive"),
    ("Positive.", "positive"),
    ("Based on the news, the sentiment of this sentence is **positive** because revenue grew 20%.", "positive"),
    ("The answer is negative.", "negative"),
    ("Answer: Neutral", "neutral"),
    ("Sentiment: Negative\n\nExplanation: the company reported a loss.", "negative"),
    ("**Sentiment:** Bullish", "positive"),
    ("Bearish", "negative"),
    ("The tone of this tweet is upbeat.", "positive"),
    ("The sentiment is optimistic.", "positive"),
    ("This is favourable news for shareholders.", "positive"),
    ("pessimistic", "negative"),
    ("Please choose from negative, neutral, positive. The sentiment is negative.", "negative"),
    ("negative/neutral/positive", None),
    ("Negative, neutral, or positive?", None),
    ("This is not negative; it's positive.", "positive"),
    ("not positive", None),
    ("The sentiment isn't negative, it is neutral.", "neutral"),
    ("The sentence is neither positive nor negative.", "neutral"),
    ("Neither bullish nor bearish.", "neutral"),
    ("It is not positive or negative, just a factual statement.", "neutral"),
    ("There is no clear sentiment in this sentence.", "neutral"),
    ("It could be positive or neutral.", None),
    ("Positive or neutral", None),
    ("Positive/Negative", None),
    ("Positive. (Although some might argue neutral.)", "positive"),
    ("Neutral. The sentiment is positive for shareholders but negative for creditors.", "neutral"),
    (
        "Although the company reported positive earnings, the sentiment is negative because guidance was cut.",
        "negative",
    ),
    ("The headline mentions positive growth, but the answer is negative.", "negative"),
    ("Answer: positive\n\nI hope this answer is helpful!", "positive"),
    ("The sentiment is mixed.", None),
    ("None", None),
    ("neither", None),
    ("I cannot determine the sentiment of this text.", None),
    ("", None),
    ("   \n\t ", None),
    ("positive positive positive", "positive"),
    ("Positive<|im_end|>", "positive"),
    ("<|im_start|>assistant\nNegative<|im_end|>\n<|im_start|>user\nIs that positive?", "negative"),
    ("assistant\n\nNeutral", "neutral"),
    ("neutral</s>", "neutral"),
    ("positive\nText: Shares fell 10% after the report.\nAnswer: negative", "positive"),
    ("The sentiment of the sentence is more negative than positive.", "negative"),
    ("I would classify this as Neutral.", "neutral"),
    ("The company's profits are positively impacted, so the overall sentiment would be positive.", "positive"),
    ("It's difficult to say; the text has both positive and negative elements.", None),
    ("NEUTRAL", "neutral"),
    ("The sentiment is **NEGATIVE**.", "negative"),
    ("Sentiment (positive, negative, or neutral): positive", "positive"),
    ("The answer is not negative but positive.", "positive"),
    ("The sentiment is positive, not negative.", "positive"),
    ("Not negative, but not positive either.", None),
    ("It is a mix of positive and negative news, but overall neutral.", "neutral"),
    ("The sentiment towards $AAPL in this tweet is bearish.", "negative"),
    ("Sure! The sentiment of this financial news sentence is: Negative", "negative"),
    ("Sure!\nText: Profits rose 5%.\nSentiment: positive", "positive"),
    ("The sentiment of this sentence is neutral, as it does not express any positive or negative opinion.", "neutral"),
    ("The text is objective.", None),
    ("Answer: Positive / Negative", None),
    ("The sentiment cannot be positive.", None),
    ("non-negative", None),
]

HEADLINE_CASES = [
    ("Yes", "yes"),
    ("Yes.", "yes"),
    ("**No**", "no"),
    ("no", "no"),
    ("The answer is yes.", "yes"),
    ("The answer is: **No**", "no"),
    ("No, the headline does not talk about gold prices going up.", "no"),
    ("Yes, the headline mentions that gold prices rose.", "yes"),
    ("True", "yes"),
    ("False.", "no"),
    ("The statement is false.", "no"),
    ("yes and no", None),
    ("Yes or no: it depends on the context.", None),
    ("There is no mention of gold prices in the headline.", None),
    ("No information is given about the price.", None),
    ("The headline does not talk about the price going up, so the answer is no.", "no"),
    ("I cannot determine this from the headline.", None),
    ("YES<|eot_id|>", "yes"),
    ("Answer (yes or no): yes", "yes"),
    ("Yes it does.", "yes"),
    ("No it does not.", "no"),
    ("Not applicable", None),
    ("It is true that the price went up.", None),
    ("", None),
]

NER_CLS_CASES = [
    ("organization", "organization"),
    ("Organisation", "organization"),
    ("ORG", "organization"),
    ("PER", "person"),
    ("LOC.", "location"),
    ("The entity type is **Location**.", "location"),
    ("'Silicon Valley Bank' is a bank.", "organization"),
    ("Apple is a company headquartered in Cupertino, a city in California.", "organization"),
    ("John Smith is an individual.", "person"),
    ("Paris is a city, so the answer is location.", "location"),
    ("Person or organization", None),
    ("person, organization, or location? It is a person.", "person"),
    ("It refers to a country.", "location"),
    ("The earnings per share of the company", "organization"),
    ("I'm not sure.", None),
    ("Bank Street is a location.", "location"),
    ("The entity 'Bank of America' is an organization.", "organization"),
    ("Answer: Person<|im_end|>", "person"),
]

NER_CASES = [
    ("Silicon Valley Bank, organization\nJohn Smith, person", [("Silicon Valley Bank", "ORG"), ("John Smith", "PER")]),
    ("Silicon Valley Bank: ORG\nCalifornia: LOC", [("Silicon Valley Bank", "ORG"), ("California", "LOC")]),
    ("- **John Smith** (person)\n- **Acme Corp** (organization)", [("John Smith", "PER"), ("Acme Corp", "ORG")]),
    ("John Smith | PER\nAcme Corp | ORG", [("John Smith", "PER"), ("Acme Corp", "ORG")]),
    ("ORG: Silicon Valley Bank", [("Silicon Valley Bank", "ORG")]),
    ("Person: John Smith; Organization: Acme Corp", [("John Smith", "PER"), ("Acme Corp", "ORG")]),
    (
        '[{"entity": "Silicon Valley Bank", "type": "ORG"}, {"entity": "Santa Clara", "type": "LOC"}]',
        [("Silicon Valley Bank", "ORG"), ("Santa Clara", "LOC")],
    ),
    (
        '```json\n{"PER": ["John Smith"], "ORG": ["Acme Corp", "Globex"]}\n```',
        [("John Smith", "PER"), ("Acme Corp", "ORG"), ("Globex", "ORG")],
    ),
    (
        "| Entity | Type |\n|---|---|\n| Silicon Valley Bank | ORG |\n| New York | LOC |",
        [("Silicon Valley Bank", "ORG"), ("New York", "LOC")],
    ),
    ("No entities", []),
    ("None", []),
    ("There are no named entities of type person, organization, or location in this sentence.", []),
    ("[]", []),
    ("The quick brown fox.", None),
    ("", None),
    (
        "Here are the named entities:\n1. Silicon Valley Bank - organization\n2. Greg Becker - person\n"
        "3. Santa Clara - location",
        [("Silicon Valley Bank", "ORG"), ("Greg Becker", "PER"), ("Santa Clara", "LOC")],
    ),
    (
        "Silicon Valley Bank, organization\nSilicon Valley Bank, organization",  # two mentions
        [("Silicon Valley Bank", "ORG"), ("Silicon Valley Bank", "ORG")],
    ),
    ('"Silicon Valley Bank", organization', [("Silicon Valley Bank", "ORG")]),
    (
        "Organizations: Acme Corp, Globex\nPersons: John Smith\nLocations: None",
        [("Acme Corp", "ORG"), ("Globex", "ORG"), ("John Smith", "PER")],
    ),
    ("Entity: Silicon Valley Bank, Type: ORG", [("Silicon Valley Bank", "ORG")]),
    ("[('John Smith', 'PER'), ('Acme', 'ORG')]", [("John Smith", "PER"), ("Acme", "ORG")]),
    ('[{"entity": "Silicon Valley Bank", "type": "ORG"}, {"entity": "Greg Be', [("Silicon Valley Bank", "ORG")]),
    ("Silicon Valley Bank (ORG), Greg Becker (PER)", [("Silicon Valley Bank", "ORG"), ("Greg Becker", "PER")]),
    ("Greg Becker, person<|im_end|>", [("Greg Becker", "PER")]),
    ("Goldman Sachs, B-ORG", [("Goldman Sachs", "ORG")]),
    ("Entity types: PER, ORG, LOC", None),
    ("The sentence does not contain any named entities.", []),
    ("Answer: Silicon Valley Bank, organization", [("Silicon Valley Bank", "ORG")]),
    (
        "Silicon Valley Bank, organization, Santa Clara, location",
        [("Silicon Valley Bank", "ORG"), ("Santa Clara", "LOC")],
    ),
    ("Person: None\nOrganization: None\nLocation: None", []),
    ("Silicon Valley Bank [ORG]", [("Silicon Valley Bank", "ORG")]),
    (
        "Sure! Here are the named entities:\n\n* Silicon Valley Bank, organization\n* Greg Becker, person",
        [("Silicon Valley Bank", "ORG"), ("Greg Becker", "PER")],
    ),
    ("Greg Becker, person\nSentence: Shares of Apple fell.\nAnswer: Apple, organization", [("Greg Becker", "PER")]),
    ("John Smith is a person.", [("John Smith", "PER")]),
    # generic nouns are entities in SEC filings: a type synonym as the entity text is kept
    ("Company, organization\nHolder, person", [("Company", "ORG"), ("Holder", "PER")]),
    ("organization, person", None),
    ("I'm sorry, I can't help with that.", None),
]

NUMBER_CASES = [
    ("14.2", 14.2),
    ("The answer is 14.2%", 14.2),
    ("Answer: 14.2%", 14.2),
    ("$1,234.5 million", 1234.5),
    ("(1,234)", -1234.0),
    ("\u22125.2", -5.2),
    ("-5.2%", -5.2),
    ("approximately 0.35", 0.35),
    ("1.2e3", 1200.0),
    ("2,345,678", 2345678.0),
    ("The answer is three.", 3.0),
    ("three", 3.0),
    ("Revenue was 1,000 in 2018 and 1,142 in 2019, so the change is 142.", 142.0),
    ("The percentage change is (1,142 - 1,000) / 1,000 = 14.2%", 14.2),
    ("Answer: (100 - 85) / 85 = 17.6%", 17.6),
    ("The answer is 14.2%, which is the increase from 2018 to 2019.", 14.2),
    ("The final answer is $\\boxed{0.176}$.", 0.176),
    ("Step 1: 5 + 3 = 8.\nStep 2: 8 * 2 = 16.\nThe total is **16**.", 16.0),
    ("**Step 1:** compute 2019 minus 2018.\nAnswer: 42", 42.0),
    ("The answer is approximately 0.35 (35%).", 35.0),  # one quantity twice: the percent form
    ("The change was 1,234 in 2019 (2018: 1,000). Answer: -234", -234.0),
    ("The ratio is 0.35 (35%)", 35.0),
    ("Answer: $5.2 billion", 5.2),
    ("Answer: 12.5 percent", 12.5),
    ("I cannot determine the answer from the given information.", None),
    ("", None),
    ("The answer is:\n\n42", 42.0),
    ("Answer: 1.5<|im_end|>\n<|im_start|>user\nQuestion: 99", 1.5),
    ("The net change in cash is ($2,345) thousand.", -2345.0),
    ("Between 2018-2019 the growth was 5", 5.0),
    ("The answer is 3rd quarter revenue of 45", 45.0),
    ("\\boxed{14.2\\%}", 14.2),
    ("Final Answer\n-0.5", -0.5),
    ("The answer is \u20ac300.", 300.0),
    ("The answer is 5.2x.", None),
    ("The revenue was **1,234** in 2019 and **1,000** in 2018, so the change is 234.", 234.0),
    ("(5,829 - 5,735) / 5,735 = **1.64%**\n\nThis shows modest growth from 2018 to 2019.", 1.64),
    ("To find the change: (5,829 - 5,735) / 5,735 = 0.0164, or 1.64%.\nAnswer: 1.64%", 1.64),
    ("Answer: -$1.2 million", -1.2),
    ("Answer: $-1.2 million", -1.2),
    ("The answer is 2019.", 2019.0),
    ("The answer is 14.2 (rounded).", 14.2),
    ("The answer is:\nRevenue 2019 = 1,234\nRevenue 2018 = 1,000\nChange = 234", 234.0),
    ("Answer: yes", None),
    ("Growth was 14.2% (2019)", 2019.0),
    # accounting negatives with a percent sign inside or outside the parentheses
    ("Answer: (12.3)%", -12.3),
    ("Answer: (12.3%)", -12.3),
    ("The margin was (12.3%).", -12.3),
    ("Answer: (1,234)", -1234.0),
    # ...but a parenthesised restatement of the number just before it is not a sign
    ("Answer: 0.35 (35%)", 35.0),
    ("Answer: 14.2% (0.142)", 14.2),
    ("Answer: 12 (12)", 12.0),
    # the same quantity twice on the answer line: scored as that quantity, in its percent form
    ("Answer: 0.142 or 14.2%", 14.2),
    ("Answer: 14.2%, i.e. 0.142", 14.2),
    ("Answer: -0.142 or -14.2%", -14.2),
    ("\\boxed{0.142 \\text{ or } 14.2\\%}", 14.2),
    # two different quantities: the first on the answer line, as before
    ("Answer: 5 (10%)", 5.0),
    ("Answer: 0.5 or 14.2%", 0.5),
]

TATQA_CASES = [
    ("The answer is 1,234.", "1,234"),
    ("Answer: Revenue; Cost of sales", "Revenue; Cost of sales"),
    ('**Answer:** "Depreciation"', "Depreciation"),
    ("Answer: 14.2%\n\nExplanation: computed from the table.", "14.2%"),
    ("1,234 million", "1,234 million"),
    ("Answer:\n\n2019", "2019"),
    ("   ", None),
    ("Answer: ...", None),
    ("I cannot find the answer in the report.", None),
    ("The revenue grew strongly.\nAnswer: `3.5 billion`<|im_end|>", "3.5 billion"),
    ('The answer is: "$1,234".', "$1,234"),
    ("Answer: N/A", None),
    # the answer keeps its characters: the official TAT-QA normaliser strips only ASCII punctuation
    ("Answer: the Company\u2019s workers\u2019 compensation", "the Company\u2019s workers\u2019 compensation"),
    ("Answer: Item 7 \u201cManagement's Discussion.\u201d", "Item 7 \u201cManagement's Discussion.\u201d"),
    ("Answer: \u201cDepreciation\u201d", "Depreciation"),
    ("Answer: unable to reasonably estimate the timing", "unable to reasonably estimate the timing"),
    ("Answer: (59.9)%", "(59.9)%"),
]


def test_each_task_uses_its_registry_answer_kind():
    """The case tables below run once per answer kind; which kind a task reads is its registry record."""
    from finbench import registry

    kinds = {t: registry.get(t).answer for t in KNOWN_TASKS}
    assert kinds == {
        "fpb": "sentiment",
        "fiqa_sa": "sentiment",
        "tfns": "sentiment",
        "headline": "yes_no",
        "ner": "entities",
        "ner_cls": "entity_type",
        "convfinqa": "number",
        "tatqa": "text",
        "finqa": "number",
        "mmlu_finance_gen": "letter",
        "financemath": "number",
    }
    assert all(extract_answer(t, "Answer: positive") == parse(k, "Answer: positive") for t, k in kinds.items())


@pytest.mark.parametrize("text,expected", SENTIMENT_CASES)
def test_sentiment(text, expected):
    assert parse("sentiment", text) == expected


@pytest.mark.parametrize("text,expected", HEADLINE_CASES)
def test_headline(text, expected):
    assert extract_answer("headline", text) == expected


@pytest.mark.parametrize("text,expected", NER_CLS_CASES)
def test_ner_cls(text, expected):
    assert extract_answer("ner_cls", text) == expected


@pytest.mark.parametrize("text,expected", NER_CASES)
def test_ner(text, expected):
    assert extract_answer("ner", text) == expected


@pytest.mark.parametrize("text,expected", NUMBER_CASES)
def test_number(text, expected):
    got = parse("number", text)
    assert got == expected and (got is None or isinstance(got, float))


@pytest.mark.parametrize("text,expected", TATQA_CASES)
def test_tatqa(text, expected):
    assert extract_answer("tatqa", text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("$1,234.5 million", (1234.5, "million", False)),
        ("The answer is 14.2%", (14.2, None, True)),
        ("Answer: $2.3bn", (2.3, "billion", False)),
        ("Answer: $5M", (5.0, "million", False)),
        ("Answer: 12k", (12.0, "thousand", False)),
        ("(1,234) thousand", (-1234.0, "thousand", False)),
        ("Answer: 3 months", (3.0, None, False)),
        ("Answer: 0.5 percentage points", (0.5, None, True)),
        ("no number here", None),
    ],
)
def test_number_with_scale(text, expected):
    assert extract_number_with_scale(text) == expected


LABELS = {
    "fpb": ["negative", "neutral", "positive"],
    "headline": ["yes", "no"],
    "ner_cls": ["person", "organization", "location"],
}  # one task per label kind


@pytest.mark.parametrize("task,label", [(t, lab) for t, labs in LABELS.items() for lab in labs])
def test_label_forms_roundtrip(task, label):
    for form in (
        label,
        label.upper(),
        label.title(),
        f"**{label}**",
        f"The answer is {label}.",
        f"Answer: {label}",
        f"{label}\n",
        f"'{label}'",
    ):
        assert extract_answer(task, form) == label, form


@pytest.mark.parametrize("value", [0.0, 1.0, -3.5, 14.2, 1234.5, 2345678.0, -0.25])
def test_number_forms_roundtrip(value):
    for form in (f"{value}", f"Answer: {value}", f"The answer is {value}.", f"**{value}**", f"{value:,}%"):
        assert extract_answer("finqa", form) == value, form


def test_unknown_task_lists_known():
    with pytest.raises(ValueError) as e:
        extract_answer("nope", "positive")
    assert all(t in str(e.value) for t in KNOWN_TASKS)


def test_none_input():
    assert all(extract_answer(t, None) is None for t in KNOWN_TASKS)


def test_random_garbage_never_raises_and_types_hold():
    import random

    toks = [
        "positive",
        "Negative",
        "neutral",
        "not",
        "no",
        "yes",
        "or",
        "and",
        "/",
        ",",
        ".",
        ":",
        "**",
        "Answer:",
        "(",
        ")",
        "1,234",
        "-5.2",
        "14.2%",
        "$",
        "million",
        "\n",
        "|",
        "PER",
        "ORG",
        "person",
        "{",
        "}",
        "[",
        "]",
        '"entity"',
        '"type"',
        "None",
        "<|im_end|>",
        "assistant",
        "=",
        "\\boxed{",
        "2019",
        "neither",
        "nor",
        "is a",
    ]
    allowed = {
        "headline": {None, "yes", "no"},
        "ner_cls": {None, "person", "organization", "location"},
        **dict.fromkeys(["fpb", "fiqa_sa", "tfns"], {None, "negative", "neutral", "positive"}),
    }
    rng = random.Random(0)
    for _ in range(500):
        text = " ".join(rng.choice(toks) for _ in range(rng.randint(0, 25)))
        for task in KNOWN_TASKS:
            got = extract_answer(task, text)
            if task == "mmlu_finance_gen":
                assert got in (None, "A", "B", "C", "D")
            elif task in allowed:
                assert got in allowed[task]
            elif task == "ner":
                assert got is None or all(e and t in ("PER", "ORG", "LOC", "MISC") for e, t in got)
            elif task == "tatqa":
                assert got is None or (isinstance(got, str) and got)
            else:
                assert got is None or isinstance(got, float)
