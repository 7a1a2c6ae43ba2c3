"""Old MaalEdu documents, shaped as the old Mongoose models stored them (see /shared/seed), with
the messy cases real data has: mixed-case and duplicate e-mails, amounts as floats, missing and
unknown fields, a paid enrollment whose LMS sync failed, a coupon used twice, an enrollment for
an unknown course, values that are not whole cents.

Amounts are in dollars (``--amount-unit dollars``), as the old code's ``$499 → $249.50`` shows.
"""

from datetime import UTC, datetime, timedelta

import bcrypt
from bson import ObjectId

LONG_AGO = datetime(2024, 3, 1, 12, 0, 0)  # naive UTC, as BSON dates come back
FUTURE = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=60)
PAST = datetime(2024, 6, 1)

PASSWORDS = {"ann": "ann-old-password", "bob": "bob-old-password", "aff": "aff-old-password"}


def _id(n: int) -> ObjectId:
    return ObjectId(f"{n:024x}")


def bcrypt_hash(password: str, prefix: str) -> str:
    """A bcrypt hash as bcryptjs/PHP wrote it, with the ``$2a$``/``$2b$``/``$2y$`` prefix."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    return f"${prefix}${hashed[4:]}"


# Users ----------------------------------------------------------------------------------------
ANN, ANN_DUP, BOB, CAROL, AFF, BAD_USER, DAVE, ERIN, AFF2 = (_id(n) for n in range(0x101, 0x10A))
# Courses
BLOCKCHAIN, DEFI, PRICEY = _id(0x201), _id(0x202), _id(0x203)
# Affiliates
AFF_1, AFF_2, AFF_GHOST = _id(0x301), _id(0x302), _id(0x303)
# Enrollments
(
    E_ANN,
    E_BOB_FAILED_SYNC,
    E_CAROL_AFFILIATE,
    E_CAROL_PENDING,
    E_BOB_REFUNDED,
    E_DAVE_FREE,
    E_ERIN_FIRST,
    E_ERIN_SECOND,
    E_UNKNOWN_COURSE,
    E_FRACTION,
    E_NEGATIVE,
    E_ANN_AGAIN,
    E_NO_EMAIL,
    E_DAVE_NO_COMMISSION,
) = (_id(n) for n in range(0x401, 0x40F))
# Grants
G_DAVE_USED, G_ERIN_TWICE, G_DAVE_UNUSED, G_CAROL_EXPIRED, G_CAROL_PENDING, G_BOB_REJECTED = (
    _id(n) for n in range(0x501, 0x507)
)
G_USED_BY_ABANDONED, G_NO_DISCOUNT = _id(0x507), _id(0x508)


def documents() -> dict[str, list[dict]]:
    users = [
        {
            "_id": ANN,
            "email": " Ann@Example.com ",
            "name": "Ann Old",
            "password": bcrypt_hash(PASSWORDS["ann"], "2a"),
            "emailVerified": LONG_AGO,
            "role": "user",
            "purchasedCourses": [{"courseId": "blockchain-101", "progress": 40}],
            "totalSpent": 499,
            "favouriteColor": "green",  # unknown field
            "createdAt": LONG_AGO,
        },
        {
            "_id": ANN_DUP,
            "email": "ann@example.com",
            "password": bcrypt_hash("another-password", "2y"),
            "emailVerified": None,
            "createdAt": LONG_AGO + timedelta(days=3),
        },
        {
            "_id": BOB,
            "email": "BOB@example.com",
            "name": "Bob Admin",
            "password": bcrypt_hash(PASSWORDS["bob"], "2y"),
            "isVerified": True,
            "role": "admin",
            "createdAt": LONG_AGO,
        },
        {"_id": CAROL, "email": "carol@example.com", "name": "Carol"},  # no password, no date
        {
            "_id": AFF,
            "email": "aff@example.com",
            "name": "Affie",
            "password": bcrypt_hash(PASSWORDS["aff"], "2b"),
            "emailVerified": LONG_AGO,
            "createdAt": LONG_AGO,
        },
        {"_id": BAD_USER, "email": "not-an-email", "createdAt": LONG_AGO},
        {"_id": DAVE, "email": "dave@example.com", "isVerified": True, "createdAt": LONG_AGO},
        {"_id": ERIN, "email": "erin@example.com", "isVerified": True, "createdAt": LONG_AGO},
        {"_id": AFF2, "email": "aff2@example.com", "isVerified": True, "createdAt": LONG_AGO},
    ]
    courses = [
        # Known here by its slug.
        {"_id": BLOCKCHAIN, "courseId": "blockchain-101", "title": "Blockchain", "price": 499},
        # Unknown here: created unpublished.
        {
            "_id": DEFI,
            "courseId": "defi-advanced",
            "title": "DeFi Advanced",
            "description": "Old description",
            "price": 299.0,
            "level": "advanced",
            "totalEnrollments": 12,
            "legacyOpenedxId": "course-v1:x",  # unknown field
        },
        {"_id": PRICEY, "courseId": "fraction-course", "title": "Fraction", "price": 19.999},
    ]
    affiliates = [
        {
            "_id": AFF_1,
            "email": "Aff@Example.com",
            "affiliateId": "aff_001",
            "status": "active",
            "commissionRate": 10,
            "paymentMethod": {"type": "paypal", "paypalEmail": "aff.paypal@example.com"},
            "totalPaid": 10.0,
            # Recalculated by the old system: 10% of (299 + 449.10) − 10 = 64.81.
            "pendingCommissions": 64.81,
            "stats": {"totalReferrals": 3, "conversionRate": 0.1},
            "createdAt": LONG_AGO,
        },
        {
            "_id": AFF_2,
            "email": "aff2@example.com",
            "status": "inactive",
            "commissionRate": 15,
            "paymentMethod": {
                "type": "bank",
                "bankDetails": {
                    "accountHolderName": "Aff Two",
                    "accountNumber": "DE89370400440532013000",
                    "bankName": "Old Bank",
                    "swiftCode": "COBADEFFXXX",
                },
            },
            "totalPaid": 0,
            "pendingCommissions": 0,
            "createdAt": LONG_AGO,
        },
        {
            "_id": AFF_GHOST,
            "email": "ghost@example.com",
            "paymentMethod": {"type": "paypal"},
            "createdAt": LONG_AGO,
        },
    ]
    sale = {"currency": "usd", "createdAt": LONG_AGO}
    enrollments = [
        {
            **sale,
            "_id": E_ANN,
            "email": "ANN@example.com",
            "courseId": "blockchain-101",
            "amount": 499.0,
            "status": "paid",
            "paymentId": "cs_test_ann",
            "enrollmentType": "paid_stripe",
            "frappeSync": {"synced": True, "syncStatus": "success", "enrollmentId": "LMS-0001"},
        },
        {
            **sale,
            "_id": E_BOB_FAILED_SYNC,
            "email": "bob@example.com",
            "courseId": "defi-advanced",
            "amount": 299,
            "status": "paid",
            "paymentId": "pi_test_bob",
            "frappeSync": {"synced": False, "syncStatus": "failed", "errorMessage": "timeout"},
            "affiliateData": {
                "affiliateEmail": "AFF@example.com",
                "commissionAmount": 29.9,
                "commissionRate": 10,
            },
        },
        {
            **sale,
            "_id": E_CAROL_AFFILIATE,
            "email": "carol@example.com",
            "courseId": "blockchain-101",
            "amount": 449.1,
            "status": "paid",
            "stripeSessionId": "cs_test_carol",
            # No frappeSync at all (before the FrappeLMS era).
            "affiliateData": {
                "affiliateEmail": "aff@example.com",
                # Stored when the rate was 8%: never recalculated at today's 10%.
                "commissionAmount": 35.93,
                "commissionRate": 8,
            },
            "utmSource": "newsletter",  # unknown field
        },
        {
            **sale,
            "_id": E_CAROL_PENDING,
            "email": "carol@example.com",
            "courseId": "defi-advanced",
            "amount": 299,
            "status": "pending",
        },
        {
            **sale,
            "_id": E_BOB_REFUNDED,
            "email": "bob@example.com",
            "courseId": "blockchain-101",
            "amount": 499,
            "status": "refunded",
            "paymentId": "cs_test_bob_refunded",
            "affiliateData": {"affiliateEmail": "aff@example.com", "commissionAmount": 49.9},
        },
        {
            **sale,
            "_id": E_DAVE_FREE,
            "email": "dave@example.com",
            "courseId": "blockchain-101",
            "amount": 0,
            "status": "paid",
            "enrollmentType": "free_grant",
            "grantData": {"grantId": G_DAVE_USED, "couponCode": "GRANT-AB12", "originalPrice": 499},
            "frappeSync": {"synced": True, "syncStatus": "success"},  # synced, but no name
        },
        {
            **sale,
            "_id": E_ERIN_FIRST,
            "email": "erin@example.com",
            "courseId": "blockchain-101",
            "amount": 249.5,
            "status": "paid",
            "paymentId": "cs_test_erin_1",
            "enrollmentType": "partial_grant",
            "grantData": {"couponCode": "HALF-77", "originalPrice": 499},
            "frappeSync": {"synced": True, "syncStatus": "success", "enrollmentId": "LMS-0002"},
        },
        {
            **sale,
            "_id": E_ERIN_SECOND,
            "email": "erin@example.com",
            "courseId": "defi-advanced",
            "amount": 149.5,
            "status": "paid",
            "paymentId": "cs_test_erin_2",
            "enrollmentType": "partial_grant",
            "couponCode": "half-77",
            "frappeSync": {"synced": False, "syncStatus": "pending"},
        },
        {
            **sale,
            "_id": E_UNKNOWN_COURSE,
            "email": "dave@example.com",
            "courseId": "quantum-999",
            "amount": 99,
            "status": "paid",
        },
        {
            **sale,
            "_id": E_FRACTION,
            "email": "dave@example.com",
            "courseId": "defi-advanced",
            "amount": 10.005,
            "status": "paid",
        },
        {
            **sale,
            "_id": E_NEGATIVE,
            "email": "erin@example.com",
            "courseId": "defi-advanced",
            "amount": -5,
            "status": "paid",
        },
        {
            **sale,
            "_id": E_ANN_AGAIN,
            "email": "ann@example.com",
            "courseId": "blockchain-101",
            "amount": 499,
            "status": "paid",
            "paymentId": "cs_test_ann_again",
            "createdAt": LONG_AGO + timedelta(days=1),
        },
        {**sale, "_id": E_NO_EMAIL, "courseId": "blockchain-101", "amount": 1, "status": "paid"},
        {
            **sale,
            "_id": E_DAVE_NO_COMMISSION,
            "email": "dave@example.com",
            "courseId": "defi-advanced",
            "amount": 299,
            "status": "paid",
            "affiliateData": {"affiliateEmail": "aff2@example.com"},
        },
    ]
    grants = [
        {
            "_id": G_DAVE_USED,
            "name": "Dave",
            "email": "dave@example.com",
            "courseId": "blockchain-101",
            "reason": "Cannot afford it",
            "status": "approved",
            "couponCode": "GRANT-AB12",
            "couponUsed": True,
            "couponUsedAt": LONG_AGO,
            "couponUsedBy": "dave@example.com",
            "enrollmentId": E_DAVE_FREE,
            "couponMetadata": {"discountPercentage": 100, "expiresAt": FUTURE},
            "createdAt": LONG_AGO,
        },
        {
            "_id": G_ERIN_TWICE,
            "name": "Erin",
            "email": "erin@example.com",
            "courseId": "blockchain-101",
            "status": "approved",
            "couponCode": "HALF-77",
            "couponUsed": True,
            "enrollmentId": E_ERIN_SECOND,
            "discountPercentage": 50,
            "couponMetadata": {"expiresAt": FUTURE},
            "createdAt": LONG_AGO,
        },
        {
            "_id": G_DAVE_UNUSED,
            "name": "Dave",
            "email": "Dave@Example.com",
            "courseId": "defi-advanced",
            "status": "approved",
            "couponCode": " scholar-2024 ",
            "couponUsed": False,
            "couponMetadata": {"discountPercentage": 100, "expiresAt": FUTURE},
            "createdAt": LONG_AGO,
        },
        {
            "_id": G_CAROL_EXPIRED,
            "name": "Carol",
            "email": "carol@example.com",
            "courseId": "defi-advanced",
            "status": "approved",
            "couponCode": "OLD-CAROL",
            "couponUsed": False,
            "couponMetadata": {"discountPercentage": 30, "expiresAt": PAST},
            "createdAt": LONG_AGO,
        },
        {
            "_id": G_CAROL_PENDING,
            "name": "Carol",
            "email": "carol@example.com",
            "courseId": "blockchain-101",
            "reason": "Student",
            "status": "pending",
            "createdAt": LONG_AGO,
        },
        {
            "_id": G_BOB_REJECTED,
            "name": "Bob",
            "email": "bob@example.com",
            "courseId": "defi-advanced",
            "status": "rejected",
            "adminNotes": "Not eligible",
            "createdAt": LONG_AGO,
        },
        {
            "_id": G_USED_BY_ABANDONED,
            "name": "Carol",
            "email": "carol@example.com",
            "courseId": "blockchain-101",
            "status": "approved",
            "couponCode": "GHOST-USE",
            "couponUsed": True,
            "enrollmentId": E_CAROL_PENDING,
            "discountPercentage": 20,
            "createdAt": LONG_AGO,
        },
        {
            "_id": G_NO_DISCOUNT,
            "email": "erin@example.com",
            "courseId": "blockchain-101",
            "status": "approved",
            "couponCode": "NODISC-1",
            "createdAt": LONG_AGO,
        },
    ]
    retryjobs = [
        {
            "_id": _id(0x601),
            "jobType": "frappe_enrollment",
            "enrollmentId": E_BOB_FAILED_SYNC,
            "attempts": 5,
            "status": "failed",
            "lastError": "timeout",
        }
    ]
    return {
        "users": users,
        "courses": courses,
        "affiliates": affiliates,
        "enrollments": enrollments,
        "grants": grants,
        "retryjobs": retryjobs,
    }
