"""The five actions of the team, each in its own module with its prompt and output model.

`write_prd.WritePRD`, `write_design.WriteDesign`, `write_tasks.WriteTasks`, `write_code.WriteCode`,
`write_code_review.WriteCodeReview`; `structured.run_action` runs one against the gateway
(repair, re-ask, fallback); `parsing` extracts and repairs JSON. Import the modules you need:
this package imports nothing on its own.
"""
