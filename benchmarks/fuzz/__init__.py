"""Coverage-guided fuzzing (atheris, libFuzzer) of every parser a stranger can reach; see run.py."""
