"""Analysis (layer 5): turns run results and statistics into tables, JSON, plots and advice."""
