"""Speaker diarization: voice vectors, clustering, and segments labelled with their speakers."""

from ingest.speakers.diarize import Diarized, diarize
from ingest.speakers.voices import load_voice_encoder, voice_model_installed

__all__ = ["Diarized", "diarize", "load_voice_encoder", "voice_model_installed"]
