"""Tests for turn-taking: patience, the speculative stop strategy, the reply gate, barge-in."""
