"""Templates of the static leaderboard (installed as the package data `finbench.leaderboards/templates`)."""
