"""Repair trigger route (placeholder until the repair work lands)."""
from fastapi import APIRouter

router = APIRouter()
