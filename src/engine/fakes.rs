//! Fakes of the ports for engine unit tests.
