"""Features: raw games -> pre-game feature vectors for each player\x27s next game."""
