"""The helpdesk's rules. Every function takes the acting user explicitly."""
