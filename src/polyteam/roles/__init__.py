"""The standard team's roles, one module each (DESIGN §1); their actions live in `polyteam.actions`."""
