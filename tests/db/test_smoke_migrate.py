import sqlalchemy as sa


def test_template_has_schema(engine):
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM ctm_private.schema_migrations")) == 4
