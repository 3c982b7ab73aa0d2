"""post_svc: post metadata in CQL, Snowflake ids, the post lifecycle."""
