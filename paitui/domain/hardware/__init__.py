"""The hardware report, GPU facts and the verdicts that say what is wrong and how to fix it."""
