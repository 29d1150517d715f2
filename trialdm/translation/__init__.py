"""Translation of study materials and transcripts."""
