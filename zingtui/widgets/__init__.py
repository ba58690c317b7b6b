"""The parts of the main screen, grouped by area: ``queue`` (left), ``conversation`` (right), the status line."""
