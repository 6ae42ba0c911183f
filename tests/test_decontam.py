"""Near-duplicate detection (finbench.decontam): what counts as the same test document, and what does not."""

from __future__ import annotations

from finbench import decontam
from finbench.decontam import Index

TWEET = "Intelsat cut to Market Perform at Raymond James"
FRAGMENT = "no compensation for its news , opinions or distributions ."
PARAGRAPH = (
    "We adopted the provisions of Topic 606 in fiscal 2019 utilizing the modified retrospective method. We "
    "recorded a $0.5 million cumulative effect adjustment, net of tax, to the opening balance of fiscal 2019 "
    "retained earnings, and a decrease to receivables of $7.6 million."
)


def _hits(docs, texts, **kw):
    return [(m.text, m.unit.docs[0][1]) for m in Index(docs, **kw).match(texts)]


def test_words_drop_tickers_urls_case_accents_and_punctuation():
    assert decontam.words("$I - Intelsat cut, to Market https://t.co/YsvsMSQRIb") == ["intelsat", "cut", "to", "market"]
    assert decontam.words("$MPLX $MPC - Café  www.x.com/a?b=1 NZ$0.16") == ["cafe", "nz", "0", "16"]
    assert decontam.words("Wipro贏得Marelli") == ["wipro贏得marelli"]  # non-Latin words are words too


def test_prefixed_and_url_suffixed_tweet_is_a_near_duplicate():
    train = [f"What is the sentiment?\n\nText: $I - {TWEET} https://t.co/YsvsMSQRIb\nAnswer:", "Intelsat upgraded"]
    assert _hits([("tfns", "t1", TWEET)], train) == [(0, "t1")]
    # and the other way round: the test tweet carries the prefix and the URL
    assert _hits([("tfns", "t1", f"$I - {TWEET} https://t.co/abc")], [TWEET]) == [(0, "t1")]


def test_fragment_contained_in_a_longer_sentence():
    longer = "FinancialWire tm is not a press release service , and receives " + FRAGMENT
    assert _hits([("fpb", "s1", FRAGMENT)], [longer]) == [(0, "s1")]
    short = "Centaurus Energy reports Q3 results"  # 5 words, under N: contained whole
    assert _hits([("tfns", "t2", short)], [f"$MDLNF - {short} https://t.co/Zj"]) == [(0, "t2")]
    assert _hits([("tfns", "t2", short)], ["Centaurus Energy reports Q3 revenue"]) == []
    # four words are below MIN_WORDS: "On the hour", "Metals Settlement Prices" are bot boilerplate
    four = "Overnight Treasury Market Summary"
    assert _hits([("tfns", "t3", four)], [f"$BONDX: {four}"]) == []


def test_shared_paragraph_between_two_tables_of_a_filing():
    heading = "Item 6. Selected Financial Data"
    test_ctx = f"Current assets | 2019 | 2018\nReceivables | 831.7 | 840.4\n{PARAGRAPH}\n{heading}"
    train_ctx = f"Inventories | 1,571.7 | 1,568.6\n{PARAGRAPH} Other text follows here.\n{heading}"
    assert _hits([("tatqa", "q1", test_ctx)], [train_ctx]) == [(0, "q1")]
    # a heading alone (under PARAGRAPH words) is boilerplate every filing repeats: no match
    other = "Inventories | 1 | 2\nThe company sells shoes.\nItem 6. Selected Financial Data"
    assert _hits([("tatqa", "q1", test_ctx)], [other]) == []


def test_long_span_inside_a_long_context_counts_even_at_a_small_share():
    filler = " ".join(f"w{i}" for i in range(200))
    shared = " ".join(f"s{i}" for i in range(decontam.SPAN + 2))
    test_ctx = f"{filler} {shared}"
    m = Index([("convfinqa", "c1", test_ctx)]).match([f"unrelated words {shared} end"])
    assert len(m) == 1 and m[0].share < decontam.SHARE and m[0].span >= decontam.SPAN
    few = " ".join(shared.split()[: decontam.SPAN - 5])
    assert Index([("convfinqa", "c1", test_ctx)]).match([few]) == []


def test_templated_tweets_about_other_companies_are_not_near_duplicates():
    test = [
        ("tfns", "t1", "Blackbaud EPS beats by $0.01, beats on revenue"),
        ("tfns", "t2", "Model N upgraded to overweight from neutral at JPMorgan, price target raised to $36 from $30"),
    ]
    train = [
        "Becton, Dickinson EPS beats by $0.01, beats on revenue",
        "Bausch Health upgraded to overweight from neutral at JPMorgan, price target raised to $38 from $32",
    ]
    assert _hits(test, train) == []


def test_share_threshold_and_side_by_side_details():
    unit = (
        "Ahlstrom 's 5,700 employees serve customers via sales offices and production facilities in more than 20 "
        "countries on six continents ."
    )
    near = unit.replace("5,700", "5,800")
    (m,) = Index([("fpb", "s1", unit)]).match(["x", near])
    assert m.text == 1 and decontam.SHARE <= m.share < 1 and m.unit.text == unit
    assert decontam.snippet(near, m) == near
    assert Index([("fpb", "s1", unit)], share=0.99).match([near]) == []


def test_no_match_across_two_texts_and_units_are_shared_by_their_records():
    assert _hits([("tfns", "t1", TWEET)], ["Intelsat cut to Market", "Perform at Raymond James"]) == []
    index = Index([("ner", "a", FRAGMENT), ("ner_cls", "b", FRAGMENT), ("ner_cls", "b", FRAGMENT)])
    assert len(index.units) == 1 and index.units[0].docs == [("ner", "a"), ("ner_cls", "b")]
    assert Index([]).match(["anything at all here"]) == [] and index.match([]) == []
