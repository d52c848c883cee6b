"""Web UI routes (placeholder until the UI work lands)."""
from fastapi import APIRouter

router = APIRouter()
