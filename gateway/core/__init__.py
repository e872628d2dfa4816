"""Domain logic of the gateway: settings, audio, transcripts, errors. Imports nothing from app/."""
