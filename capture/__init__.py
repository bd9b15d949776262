"""The capture layer: what eas-inspector stores, and how evidence of other forms gets into it."""
