"""Persona YAML: schema, loading with file:line errors, and the personas folder."""

from interview_pipeline.personas.errors import PersonaError, PersonaIssue, UnknownPersonaError
from interview_pipeline.personas.loader import FolderReport, PersonaLibrary, load_persona_file
from interview_pipeline.personas.schema import Persona, Question

__all__ = [
    "FolderReport",
    "Persona",
    "PersonaError",
    "PersonaIssue",
    "PersonaLibrary",
    "Question",
    "UnknownPersonaError",
    "load_persona_file",
]
