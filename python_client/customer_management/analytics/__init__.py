"""The analytics views, read for people: ``customer-management report``.

``views``   reads each ``analytics.*`` view into a table of plain values (needs psycopg)
``charts``  draws account sources, the merge rate over time and completeness as PNG files
            (needs matplotlib, the ``bench`` extra)
"""
