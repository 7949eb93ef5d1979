"""The pure core: diff desired against actual, plan the actions. No I/O."""
