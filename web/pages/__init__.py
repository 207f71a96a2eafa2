"""The staff pages: account, inbox, processes, search and the person page, with their queries."""
