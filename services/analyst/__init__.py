"""What analysts use to look at the topics: `nudge tail`'s filters, start positions and JSON
lines, and `nudge topics list`'s view of the cluster."""
