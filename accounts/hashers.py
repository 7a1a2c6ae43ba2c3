"""The old MaalEdu's password hashes (NextAuth credentials, bcryptjs), kept until the next login.

The importer stores them as ``bcrypt$<old hash>`` (``$2a$``, ``$2b$`` or ``$2y$``: the bcrypt
library reads all three), which this hasher verifies. It is last in ``PASSWORD_HASHERS``, so a
successful login re-hashes the password with the default hasher.
"""

from django.contrib.auth.hashers import BCryptPasswordHasher

# bcrypt reads only the first 72 bytes; bcryptjs (the old system) cut longer passwords there too,
# while bcrypt ≥ 5 refuses them with ValueError, which would turn a long password into a 500.
BCRYPT_MAX_PASSWORD_BYTES = 72


class LegacyBCryptPasswordHasher(BCryptPasswordHasher):
    def encode(self, password, salt):
        bcrypt = self._load_library()
        data = bcrypt.hashpw(password.encode()[:BCRYPT_MAX_PASSWORD_BYTES], salt)
        return f"{self.algorithm}${data.decode('ascii')}"
