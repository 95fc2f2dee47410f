package high
