"""The books: the trade journal, the account's book of record, and the account rebuilt from it."""
