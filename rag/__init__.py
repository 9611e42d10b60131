"""From help pages to grounded, cited answers: crawl, extract, chunk, index, retrieve, answer."""
