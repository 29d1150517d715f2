"""Data quality: checks declared as data, queries (discrepancy management), and the
e-signature of forms and events that locks them."""
