"""GraphQL at ``/graphql``: nested reads in one round trip, and live events.

Built with strawberry on the same container, authentication, permissions, location scope
and read queries as the REST API: a GraphQL field answers what the REST route it mirrors
answers, rendered by the same ``*Out`` schemas, refused with the same problem codes (in
``extensions.code``). Nothing here imports at package level, so that the HTTP layer can
read ``ide`` without loading the schema.
"""
