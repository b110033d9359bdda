"""Reads e-mail messages with Python's own parser (independent of Hitkeep's) and prints each
as one JSON object per line: the headers a test checks and every leaf part, decoded.

Usage: python3 mail_read.py MESSAGE_FILE...
"""

import email
import email.policy
import json
import sys


def read(path):
    with open(path, "rb") as file:
        message = email.message_from_binary_file(file, policy=email.policy.default)
    defects = [str(d) for part in message.walk() for d in part.defects]
    parts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        parts.append({"type": part.get_content_type(), "charset": part.get_content_charset(), "text": part.get_content()})
    return {
        "to": str(message["To"]),
        "from": str(message["From"]),
        "subject": str(message["Subject"]),
        "message_id": str(message["Message-ID"]),
        "list_unsubscribe": str(message["List-Unsubscribe"]),
        "list_unsubscribe_post": str(message["List-Unsubscribe-Post"]),
        "content_type": message.get_content_type(),
        "defects": defects,
        "parts": parts,
    }


for path in sys.argv[1:]:
    print(json.dumps(read(path)))
