"""What artreg knows about model files themselves: their formats (recognised by content),
signatures, integrity checks, checkpoints and Hugging Face folder layouts. Modules here may
import the registry domain (`artreg.registry`: names, records) and the adapters, never the
services, publishing or presentation above them."""
