"""What ingestion and answering share: settings, types and answer events, the index schema and
store, identity rules, model loading and text utilities. Imports nothing else of ours."""
