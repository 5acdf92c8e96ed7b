"""Fakes of cloud SDK client objects, for services with no local emulator (named Fake*)."""
