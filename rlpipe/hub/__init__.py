"""Everything that speaks to the Hugging Face Hub.

- `client.py`: repo and run names, Hub errors as one-line messages, reading a published run
  (does it exist, its files, its card);
- `publish.py`: `rlpipe publish`, the checked upload of run folders with their cards, and
  reports/hub.json;
- `card.py`: the model card (generated from the run folder, read back, compared);
- `assets.py`: the card's pictures (learning curve, replay GIF);
- `pull.py`: `rlpipe pull`, a published run downloaded and checked against its card;
- `audit.py`: the online half of `rlpipe audit`: Hub links and published cards.

The package sits above rlpipe.report (it renders the report's plots on cards); the report
never imports it: reports/hub.json and the URL of a published run are report data
(rlpipe.report.hub_links).
"""
