"""What every HTTP service of Nudge shares at its edge: problem+json errors, bodies read with a
cap and a deadline, and the uvicorn protocol that bounds slow or greedy clients."""
