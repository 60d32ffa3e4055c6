"""Identity: finds faces in frames, tracks them within a video, and keeps one identity space in Qdrant."""
