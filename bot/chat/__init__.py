"""Chat adapters: each turns a platform event into an IncomingCommand and a Reply back."""
