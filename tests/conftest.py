"""Root test configuration: the emulator fixtures are available to every test."""

pytest_plugins = ["tests.emulators"]
