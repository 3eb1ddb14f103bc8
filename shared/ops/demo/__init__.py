"""`mlops demo`: the whole story on the local backend."""
