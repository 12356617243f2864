"""The DBaaS worker: one program whose role (master or slave) comes from the election."""
