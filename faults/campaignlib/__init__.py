"""Parts of faults/campaign that other explorers share (see conventions.py)
and the pure functions that judge runs (judge.py, sizes.py), tested by
test_campaignlib.py without running any program."""
