"""One customer account per person across chatbot and web app, on Supabase (SQL-first)."""

__version__ = "0.1.0"
