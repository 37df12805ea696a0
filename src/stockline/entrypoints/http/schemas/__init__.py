"""Request and response bodies, named by role (``...Create``, ``...Update``, ``...Out``)."""
