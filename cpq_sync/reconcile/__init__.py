"""The drift report (`cpq-sync reconcile`): Stripe compared with Salesforce for every synced record, each difference
with both values; `--fix` repairs it through the sync's apply. run.py runs it, findings.py and diff.py decide what
differs (pure), live.py reads Stripe, fix.py repairs, render.py prints, models.py is the report."""
