"""The RideShare rides service: creating, searching, joining and deleting rides."""
