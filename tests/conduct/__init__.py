"""Tests for interview conduct: plan, conductor, evaluation."""
