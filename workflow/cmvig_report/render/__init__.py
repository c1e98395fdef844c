"""The manuscript rendered: templates, tracked numbers, PDF, DOCX, references."""
