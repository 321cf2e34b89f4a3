"""What every part of the engine agrees on."""

# Whisper, the VAD and the speaker encoder all take 16 kHz mono: every decoded sample, chunk
# bound and turn in the platform counts at this rate.
SAMPLE_RATE = 16000
