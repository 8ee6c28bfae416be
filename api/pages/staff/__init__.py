"""Pages for staff: tasks, cases (instances), customers and the search across them."""
