"""Technical checks on the raw take: clipping, clicks, dropouts, DC, polarity, truncation, noise, level."""
